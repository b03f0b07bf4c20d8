"use client";
import { createTheme, MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import type { ReactNode } from "react";
import { TrpcProviders } from "./_lib/trpc";

const theme = createTheme({
  primaryColor: "indigo",
  defaultRadius: "sm",
  fontFamily: "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
  fontFamilyMonospace: "JetBrains Mono, ui-monospace, SFMono-Regular, Menlo, monospace",
});

export function Providers({ children }: { children: ReactNode }) {
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      {/* Bottom right, as JupyterLab's: never over the top bar's account menu nor the notebook's toolbar. */}
      <Notifications position="bottom-right" />
      <TrpcProviders>{children}</TrpcProviders>
    </MantineProvider>
  );
}
