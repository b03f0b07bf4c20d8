// Downloads started by the page: a file at a URL of the portal, or text made on the page (a CSV, a script) that
// never goes to the server. Browser only.

/** Has the browser download `url` as `name` (a click on a download link). */
export function downloadUrl(url: string, name: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

/** Has the browser save `text` as a file `name` of MIME `type`. */
export function downloadText(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  downloadUrl(url, name);
  // Revoked later: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
