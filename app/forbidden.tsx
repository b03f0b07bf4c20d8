"use client";
import { Button, Center, Stack, Text, Title } from "@mantine/core";
import Link from "next/link";

export default function Forbidden() {
  return (
    <Center h="70vh">
      <Stack align="center" gap="xs">
        <Title order={1} size="h2">You don’t have access to this page</Title>
        <Text c="dimmed">It is for admins only. If you need it, ask an admin to change your role.</Text>
        <Button component={Link} href="/files" variant="light" mt="md">
          Back to your files
        </Button>
      </Stack>
    </Center>
  );
}
