import { Anchor, Stack, Title } from "@mantine/core";
import { WrappingAlert } from "./wrapping-alert";

/** A /files or /view address whose path the home refused ('..', an absolute path): the store's words, and the way home. */
export function AddressRefused({ leadsTo, message }: { leadsTo: "a file" | "a folder"; message: string }) {
  return (
    <Stack gap="md" maw={720}>
      <Title order={2}>Files</Title>
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
