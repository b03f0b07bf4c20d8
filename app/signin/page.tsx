import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { currentUser } from "@/server/auth/current-user";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; code?: string }> }) {
  if (await currentUser()) redirect("/files");
  const params = await searchParams;
  return <SignInForm callbackUrl={safeCallback(params.callbackUrl)} initialCode={params.code ?? null} />;
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
