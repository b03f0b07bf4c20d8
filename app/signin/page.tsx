import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { currentUser } from "@/server/auth/current-user";
import { services } from "@/server/services";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; code?: string; error?: string }> }) {
  if (await currentUser()) redirect("/files");
  const params = await searchParams;
  const { env } = services();
  // Single sign-on, when an OpenID Connect provider is configured: a button beside the password form.
  const sso = env.ATRIUM_OIDC_ISSUER ? { name: env.ATRIUM_OIDC_NAME } : null;
  // `error`: Auth.js's own code for a single sign-on that broke off (the log says why).
  const code = params.code ?? (params.error ? "sso-failed" : null);
  return <SignInForm callbackUrl={safeCallback(params.callbackUrl)} initialCode={code} sso={sso} />;
}

/** Only same-site paths: a sign-in link must not bounce the user to another site. */
function safeCallback(url: string | undefined): string {
  if (!url) return "/files";
  try {
    const parsed = new URL(url, "http://x");
    if (parsed.origin !== "http://x" && !/^https?:\/\/localhost(:\d+)?$/.test(parsed.origin)) return "/files";
    const path = parsed.pathname + parsed.search;
    return path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/signin") ? path : "/files";
  } catch {
    return "/files";
  }
}
