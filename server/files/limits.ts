// Shared by the upload route (which enforces them) and the Files page (which checks before sending, so an
// oversized file is refused at once instead of after minutes of uploading).

/** Where file bytes are served; the rest of the URL is the home path, each segment percent-encoded. */
export const FILE_CONTENT_PREFIX = "/api/files/content/";

/**
 * The largest upload accepted. Uploads stream to the home store, so the limit is about how long a request
 * may hold a connection and a home's space, not memory. Large datasets belong in HDFS or object storage.
 */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 ** 3;
