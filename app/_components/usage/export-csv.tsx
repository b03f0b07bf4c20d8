"use client";
// Export CSV beside a usage chart: the numbers behind it, one click away. The CSV is written in the browser
// from the rows the page shows (server/usage/report.ts's writer), so its sums are the page's numbers. The
// admin's report, the analyst's usage and the team lead's page all export through this one button.
import { Button } from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";

/** Saves `text` as a CSV file named `filename` (a download, as a link to a blob would). */
export function downloadCsv(filename: string, text: string): void {
  const blob = new Blob([text], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoked later: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** An "Export CSV" button; `csv` is called on click, so a large table is written only when asked for. */
export function ExportCsvButton({ filename, csv, disabled }: { filename: string; csv: () => string; disabled?: boolean }) {
  return (
    <Button leftSection={<IconDownload size={16} />} variant="light" onClick={() => downloadCsv(filename, csv())} disabled={disabled}>
      Export CSV
    </Button>
  );
}
