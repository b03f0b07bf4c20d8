"use client";
import { Button, Center, Stack, Text, Title } from "@mantine/core";
import Link from "next/link";

export default function NotFound() {
  return (
    <Center h="70vh">
      <Stack align="center" gap="xs">
        <Title order={1} size="h2">Page not found</Title>
        <Text c="dimmed">The address may be mistyped, or the page was moved.</Text>
        <Button component={Link} href="/files" variant="light" mt="md">
          Back to your files
        </Button>
      </Stack>
    </Center>
  );
}
