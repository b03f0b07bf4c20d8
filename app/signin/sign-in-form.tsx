"use client";
import { Alert, Anchor, Box, Button, Center, Divider, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconAlertCircle } from "@tabler/icons-react";
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { signInErrorMessage } from "@/server/auth/sign-in-errors";

export function SignInForm({ callbackUrl, initialCode, sso }: { callbackUrl: string; initialCode: string | null; sso: { name: string } | null }) {
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(signInErrorMessage(initialCode));
  const [pending, setPending] = useState(false);
  const [redirecting, setRedirecting] = useState(false);

  async function signInWithProvider() {
    setRedirecting(true);
    setError("");
    try {
      // Leaves for the provider's page; it sends the browser back to /api/auth/callback/oidc, then to callbackUrl.
      await signIn("oidc", { redirectTo: callbackUrl });
    } catch {
      setRedirecting(false);
      setError("Atrium could not be reached. Check your connection and try again.");
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError("");
    try {
      const result = await signIn("credentials", { email, password, redirect: false });
      if (!result || result.error) {
        setError(signInErrorMessage(result?.code ?? "wrong"));
        return;
      }
      router.replace(callbackUrl);
      router.refresh();
    } catch {
      setError("Atrium could not be reached. Check your connection and try again.");
    } finally {
      setPending(false);
    }
  }

  return (
    <Center mih="100vh" p="md" bg="var(--mantine-color-body)">
      <Box w={380}>
        <Stack gap={4} mb="lg" align="center">
          <Title order={1} fz={28} fw={700}>
            Atrium
          </Title>
          <Text c="dimmed" size="sm">
            Notebooks on your cluster, under your own identity
          </Text>
        </Stack>
        <Paper withBorder shadow="sm" p="xl" radius="md">
          <form onSubmit={submit} noValidate aria-label="Sign in">
            <Stack>
              <Title order={2} fz="lg">
                Sign in
              </Title>
              {error && (
                <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert" variant="light">
                  {error}
                </Alert>
              )}
              <TextInput
                label="Email"
                type="email"
                autoComplete="username"
                required
                autoFocus
                value={email}
                onChange={(e) => setEmail(e.currentTarget.value)}
              />
              <PasswordInput
                label="Password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
              />
              <Button type="submit" loading={pending} fullWidth disabled={!email || !password}>
                Sign in
              </Button>
              {sso && (
                <>
                  <Divider label="or" labelPosition="center" />
                  <Button type="button" variant="default" fullWidth loading={redirecting} onClick={signInWithProvider}>
                    Continue with {sso.name}
                  </Button>
                </>
              )}
              <Text size="xs" c="dimmed" ta="center">
                Forgot your password? <Anchor size="xs" component="span">Ask an admin to reset it.</Anchor>
              </Text>
            </Stack>
          </form>
        </Paper>
      </Box>
    </Center>
  );
}
