import { Stack, Text, Title } from "@mantine/core";
import type { Metadata } from "next";

export const metadata: Metadata = { title: "Files" };

// The home-folder browser arrives with the storage work (issue 4); this is the landing page until then.
export default function FilesPage() {
  return (
    <Stack gap="xs">
      <Title order={2}>Files</Title>
      <Text c="dimmed">Your home folder will be listed here.</Text>
    </Stack>
  );
}
