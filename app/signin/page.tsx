import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { currentUser } from "@/server/auth/current-user";
import { services } from "@/server/services";
import { safeCallbackPath } from "./callback-url";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; code?: string; error?: string }> }) {
  const params = await searchParams;
  const callbackUrl = safeCallbackPath(params.callbackUrl);
  // Already signed in (another tab did it): straight on to the page asked for.
  if (await currentUser()) redirect(callbackUrl);
  const { env } = services();
  // Single sign-on, when an OpenID Connect provider is configured: a button beside the password form.
  const sso = env.ATRIUM_OIDC_ISSUER ? { name: env.ATRIUM_OIDC_NAME } : null;
  // `error`: Auth.js's own code for a single sign-on that broke off (the log says why).
  const code = params.code ?? (params.error ? "sso-failed" : null);
  return <SignInForm callbackUrl={callbackUrl} initialCode={code} sso={sso} />;
}
