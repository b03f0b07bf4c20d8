"use client";
// Sends a signed-out visitor to the sign-in page with the page they asked for as callbackUrl. A client
// component because only the router knows the path: a layout is not given it (and keeps rendering while the
// user moves between its pages). It redirects while rendering, so on a full load the server already answers
// with the redirect, and on a client navigation the router follows it.
import { redirect, usePathname, useSearchParams } from "next/navigation";
import { signInHref } from "./callback-url";

export function SignInRedirect(): never {
  const pathname = usePathname();
  const query = useSearchParams().toString();
  redirect(signInHref(query ? `${pathname}?${query}` : pathname));
}
