import type { ReactNode } from "react";
import { AppHeader } from "./_components/AppHeader";
import { Providers } from "./providers";
import "./globals.css";

export const metadata = {
  title: "GAN Studio",
  description: "Train NNC's DCGAN with label together, live",
};

export const viewport = { width: "device-width", initialScale: 1, themeColor: "#020617" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" className="dark">
      <body className="min-h-screen bg-slate-950 font-sans text-slate-100 antialiased">
        <Providers>
          <AppHeader />
          {children}
        </Providers>
      </body>
    </html>
  );
}
