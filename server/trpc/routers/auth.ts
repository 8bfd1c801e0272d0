/** `auth.*`: the signed-in user, sign-up, sign-in, sign-out (every device) and a password change. */
import { TRPCError } from "@trpc/server";
import { ChangePasswordSchema, CredentialsSchema, hashPassword, SignUpSchema, verifyPassword, verifyPasswordOrDummy } from "../../auth/auth";
import { authedProcedure, type Context, publicProcedure, router } from "../init";
import { toTrpc } from "../shared";

async function setSession(ctx: Context, userId: string, version: number) {
  const cookie = await ctx.sealer.seal({ userId, v: version });
  ctx.setCookies.push(cookie);
  ctx.res?.appendHeader("Set-Cookie", cookie);
}

export const authRouter = router({
  me: publicProcedure.query(async ({ ctx }) => {
    if (!ctx.userId) return null;
    const user = await ctx.store.getUser(ctx.userId);
    return user ? { id: user.id, name: user.name, email: user.email } : null;
  }),
  signUp: publicProcedure.input(SignUpSchema).mutation(async ({ ctx, input }) => {
    await ctx.rateLimits.signUp(ctx.ip).catch(toTrpc);
    const existing = await ctx.store.findUserByEmail(input.email);
    if (existing) throw new TRPCError({ code: "CONFLICT", message: "an account with this email exists: sign in instead" });
    const user = await ctx.store.createUser({ email: input.email, name: input.name, passwordHash: await hashPassword(input.password) });
    await setSession(ctx, user.id, user.sessionVersion);
    return { id: user.id, name: user.name, email: user.email };
  }),
  signIn: publicProcedure.input(CredentialsSchema).mutation(async ({ ctx, input }) => {
    await ctx.rateLimits.signInAttempt(ctx.ip, input.email).catch(toTrpc);
    const user = await ctx.store.findUserByEmail(input.email);
    // One argon2 verification either way (a dummy hash without an account), and one message for both cases: neither
    // the time nor the answer tells which emails have accounts. Failures count per email, account or not.
    if (!(await verifyPasswordOrDummy(user?.passwordHash, input.password)) || !user) {
      await ctx.rateLimits.signInFailed(ctx.ip, input.email);
      throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong email or password" });
    }
    await ctx.rateLimits.signInSucceeded(ctx.ip, input.email);
    await setSession(ctx, user.id, user.sessionVersion);
    return { id: user.id, name: user.name, email: user.email };
  }),
  /** Ends this cookie and every other cookie of the account (every device), then clears it in this browser. */
  signOut: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.userId) await ctx.store.bumpSessionVersion(ctx.userId).catch(toTrpc);
    const cookie = ctx.sealer.clear();
    ctx.setCookies.push(cookie);
    ctx.res?.appendHeader("Set-Cookie", cookie);
    return { ok: true };
  }),
  /**
   * A new password: the current one is checked (wrong ones count as failed sign-ins of the account), every existing
   * cookie of the account ends, and the caller gets a fresh one.
   */
  changePassword: authedProcedure.input(ChangePasswordSchema).mutation(async ({ ctx, input }) => {
    const user = await ctx.store.getUser(ctx.userId);
    if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
    await ctx.rateLimits.signInAttempt(ctx.ip, user.email).catch(toTrpc);
    if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
      await ctx.rateLimits.signInFailed(ctx.ip, user.email);
      const issues = [{ path: "currentPassword", message: "this is not your current password" }];
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: "the current password is wrong",
        cause: Object.assign(new Error("wrong current password"), { issues }),
      });
    }
    await ctx.rateLimits.signInSucceeded(ctx.ip, user.email);
    const version = await ctx.store.setPassword(user.id, await hashPassword(input.newPassword)).catch(toTrpc);
    await setSession(ctx, user.id, version);
    return { ok: true };
  }),
});
