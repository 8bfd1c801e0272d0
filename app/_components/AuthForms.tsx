"use client";
/** Sign in and sign up on one page; field errors come from the server's zod issues, under each field. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { errorCode, errorMessage, issuesByPath } from "../_lib/errors";
import { useTRPC } from "../_lib/trpc";
import { Button, Field, Notice } from "./ui";

export function AuthForms({ next }: { next: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const done = async () => {
    await queryClient.invalidateQueries();
    router.push(next);
  };
  const signIn = useMutation(trpc.auth.signIn.mutationOptions({ onSuccess: done }));
  const signUp = useMutation(trpc.auth.signUp.mutationOptions({ onSuccess: done }));
  const [inForm, setIn] = useState({ email: "", password: "" });
  const [upForm, setUp] = useState({ name: "", email: "", password: "" });
  const inErrors = issuesByPath(signIn.error);
  const upErrors = issuesByPath(signUp.error);
  const invited = next.startsWith("/invite/");

  const submitIn = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate(inForm);
  };
  const submitUp = (e: FormEvent) => {
    e.preventDefault();
    signUp.mutate(upForm);
  };

  return (
    <main className="mx-auto flex max-w-4xl flex-col gap-6 px-4 py-8 sm:py-14">
      <div className="flex flex-col gap-2">
        <h1 className="text-2xl font-semibold sm:text-3xl">Train a GAN together, live</h1>
        <p className="max-w-2xl text-slate-400">
          Watch the losses and the sample grid of Neural Network Console&apos;s <em>DCGAN with label</em> as it trains, steer its LRateMultipliers, and draw
          digits from the RuntimeGenerator with your team.
        </p>
        {invited ? <Notice tone="info">Sign in or create an account to accept your invitation.</Notice> : null}
      </div>
      <div className="grid gap-6 md:grid-cols-2">
        <form
          onSubmit={submitIn}
          noValidate
          aria-labelledby="signin-title"
          className="flex flex-col gap-4 rounded-xl bg-slate-900/70 p-5 ring-1 ring-slate-800"
        >
          <h2 id="signin-title" className="text-lg font-semibold">
            Sign in
          </h2>
          <Field
            id="signin-email"
            label="Email"
            type="email"
            autoComplete="email"
            value={inForm.email}
            onChange={(e) => setIn({ ...inForm, email: e.target.value })}
            error={inErrors.email}
          />
          <Field
            id="signin-password"
            label="Password"
            type="password"
            autoComplete="current-password"
            value={inForm.password}
            onChange={(e) => setIn({ ...inForm, password: e.target.value })}
            error={inErrors.password}
          />
          {signIn.error && Object.keys(inErrors).length === 0 ? (
            <Notice tone="error" role="alert">
              {errorCode(signIn.error) === "UNAUTHORIZED" ? "Wrong email or password." : errorMessage(signIn.error)}
            </Notice>
          ) : null}
          <Button type="submit" tone="primary" disabled={signIn.isPending}>
            {signIn.isPending ? "Signing in…" : "Sign in"}
          </Button>
        </form>

        <form
          onSubmit={submitUp}
          noValidate
          aria-labelledby="signup-title"
          className="flex flex-col gap-4 rounded-xl bg-slate-900/70 p-5 ring-1 ring-slate-800"
        >
          <h2 id="signup-title" className="text-lg font-semibold">
            Create an account
          </h2>
          <Field
            id="signup-name"
            label="Name"
            autoComplete="name"
            value={upForm.name}
            onChange={(e) => setUp({ ...upForm, name: e.target.value })}
            error={upErrors.name}
          />
          <Field
            id="signup-email"
            label="Email"
            type="email"
            autoComplete="email"
            value={upForm.email}
            onChange={(e) => setUp({ ...upForm, email: e.target.value })}
            error={upErrors.email}
          />
          <Field
            id="signup-password"
            label="Password"
            type="password"
            autoComplete="new-password"
            hint="At least 8 characters."
            value={upForm.password}
            onChange={(e) => setUp({ ...upForm, password: e.target.value })}
            error={upErrors.password}
          />
          {signUp.error && Object.keys(upErrors).length === 0 ? (
            <Notice tone="error" role="alert">
              {errorMessage(signUp.error)}
            </Notice>
          ) : null}
          <Button type="submit" tone="primary" disabled={signUp.isPending}>
            {signUp.isPending ? "Creating…" : "Create account"}
          </Button>
        </form>
      </div>
    </main>
  );
}
