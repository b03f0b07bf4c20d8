"use client";
// Export CSV beside a usage chart: the numbers behind it, one click away. The CSV is written in the browser
// from the rows the page shows (server/usage/report.ts's writer), so its sums are the page's numbers. The
// admin's report, the analyst's usage and the team lead's page all export through this one button.
import { Button } from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";
import { downloadText } from "@/app/_lib/download";

/** Saves `text` as a CSV file named `filename`. */
export function downloadCsv(filename: string, text: string): void {
  downloadText(text, filename, "text/csv;charset=utf-8");
}

/** An "Export CSV" button; `csv` is called on click, so a large table is written only when asked for. */
export function ExportCsvButton({ filename, csv, disabled }: { filename: string; csv: () => string; disabled?: boolean }) {
  return (
    <Button leftSection={<IconDownload size={16} />} variant="light" onClick={() => downloadCsv(filename, csv())} disabled={disabled}>
      Export CSV
    </Button>
  );
}
