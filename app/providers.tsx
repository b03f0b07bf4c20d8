"use client";
import { createTheme, MantineProvider, Modal, type CSSVariablesResolver } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import type { ReactNode } from "react";
import { TrpcProviders } from "./_lib/trpc";

const theme = createTheme({
  primaryColor: "indigo",
  // Text on the primary colour, and dimmed text, at WCAG AA contrast (4.5:1): Mantine's defaults (indigo 6, gray 6)
  // fall short on white.
  primaryShade: { light: 7, dark: 8 },
  defaultRadius: "sm",
  fontFamily: "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
  fontFamilyMonospace: "JetBrains Mono, ui-monospace, SFMono-Regular, Menlo, monospace",
  components: {
    // Mantine's close button is an icon alone: a screen reader would announce a nameless button.
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { "aria-label": "Close" } } }),
  },
});

const contrastVariables: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "#5f6670" },
  dark: { "--mantine-color-dimmed": "#a3a3a3" },
});

export function Providers({ children }: { children: ReactNode }) {
  return (
    <MantineProvider theme={theme} cssVariablesResolver={contrastVariables} defaultColorScheme="auto">
      {/* Bottom right, as JupyterLab's: never over the top bar's account menu nor the notebook's toolbar; and above
          the notebook's footer (notifications.css). */}
      <Notifications position="bottom-right" />
      <TrpcProviders>{children}</TrpcProviders>
    </MantineProvider>
  );
}
