import { Anchor, Stack, Title } from "@mantine/core";
import type { ReactElement } from "react";
import { asAppError } from "@/server/errors";
import { homePathFromUrl } from "@/server/files/home-path";
import { WrappingAlert } from "./wrapping-alert";

/**
 * The home path a /files or /view address names (its segments still percent-encoded, decoded exactly once here, so
 * '..%2F..' is refused with the store's own words before the page asks for anything), or the page saying why not.
 */
export function homePathOfAddress(segments: string[], leadsTo: "a file" | "a folder"): { path: string } | { refused: ReactElement } {
  try {
    return { path: homePathFromUrl(segments.join("/")) };
  } catch (error) {
    const known = asAppError(error);
    if (!known) throw error;
    return { refused: <AddressRefused leadsTo={leadsTo} message={known.message} /> };
  }
}

/** A /files or /view address whose path the home refused ('..', an absolute path): the store's words, and the way home. */
export function AddressRefused({ leadsTo, message }: { leadsTo: "a file" | "a folder"; message: string }) {
  return (
    <Stack gap="md" maw={720}>
      <Title order={1} size="h2">Files</Title>
      <WrappingAlert color="red" variant="light" title={`This address does not lead to ${leadsTo} in your home`} role="alert">
        <Stack gap="xs">
          <span>{message}</span>
          <Anchor href="/files" size="sm">
            Go to your home folder
          </Anchor>
        </Stack>
      </WrappingAlert>
    </Stack>
  );
}
