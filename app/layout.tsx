import type { ReactNode } from "react";
import "./globals.css";

export const metadata = {
  title: "GAN Studio",
  description: "Train NNC's DCGAN with label together, live",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-950 text-slate-100 antialiased">{children}</body>
    </html>
  );
}
