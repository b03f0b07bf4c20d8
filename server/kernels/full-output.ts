// The whole output of one recorded run, as text: what the database kept, then what went to the run's spill file
// past the stored limit (output-recorder.ts). The notebook says when an output was clipped and links here, so
// nothing a kernel printed is out of the user's reach.
//   GET /api/runs/<msg_id>/output    text/plain attachment, streamed (a spill file can be gigabytes)
// Only the run's owner gets it (session cookie or API token); anyone else's msg_id answers 404.
import fs from "node:fs";
import type http from "node:http";
import readline from "node:readline";
import { once } from "node:events";
import { findCellRun } from "@/db/queries/notebooks";
import { identify } from "@/server/auth/session";
import { contentDisposition } from "@/server/files/routes";
import { describeError } from "@/server/jupyter-api/http";
import { log } from "@/server/log";
import type { Output } from "@/server/notebooks/nbformat";
import { outputFromMessage } from "@/server/notebooks/outputs";
import type { Services } from "@/server/services";
import { spillDirOf, spillFileOf } from "./output-recorder";

const ROUTE = /^\/api\/runs\/([^/]{1,512})\/output$/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** One output as a reader would want it in a text file. */
export function outputAsText(output: Output): string {
  switch (output.output_type) {
    case "stream":
      return output.text;
    case "error": {
      const lines = output.traceback.length > 0 ? output.traceback : [`${output.ename}: ${output.evalue}`];
      return `${lines.join("\n").replace(ANSI, "")}\n`;
    }
    default: {
      const plain = output.data["text/plain"];
      if (typeof plain === "string") return plain.endsWith("\n") ? plain : `${plain}\n`;
      return `[${Object.keys(output.data).join(", ") || "empty"} output: not text]\n`;
    }
  }
}

/** One line of a spill file ({"msg_type", "content"}) as text; a damaged line says so instead of stopping. */
export function spillLineAsText(line: string): string {
  if (line.trim() === "") return "";
  try {
    const { msg_type: msgType, content } = JSON.parse(line) as { msg_type: string; content: Record<string, unknown> };
    if (msgType === "stream") return typeof content.text === "string" ? content.text : "";
    return outputAsText(outputFromMessage(msgType, content));
  } catch {
    return "[a recorded output line could not be read]\n";
  }
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>;

export function fullOutputRoutes(services: Services): { http: Handler } {
  const spillDir = spillDirOf(services.env.dataDir);
  return {
    async http(req, res, url) {
      const match = ROUTE.exec(url.pathname);
      if (!match) return false;
      try {
        if (req.method !== "GET") {
          res.writeHead(405, { allow: "GET", "content-type": "text/plain; charset=utf-8" }).end("Use GET.\n");
          return true;
        }
        const user = await identify(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName });
        if (!user) return sendText(res, 401, "Sign in to continue.");
        let msgId: string;
        try {
          msgId = decodeURIComponent(match[1]!);
        } catch {
          return sendText(res, 400, "The run id in this address is not valid.");
        }
        const run = await findCellRun(services.db, { ownerId: user.id, msgId });
        if (!run) return sendText(res, 404, "No recorded output with this id. It may belong to another user, or the run was never recorded.");
        res.writeHead(200, {
          "content-type": "text/plain; charset=utf-8",
          "content-disposition": contentDisposition(`output-${run.executionCount ?? "run"}-${msgId.slice(0, 8)}.txt`),
          "cache-control": "private, no-store",
          "x-content-type-options": "nosniff",
        });
        for (const output of run.outputs as Output[]) await write(res, outputAsText(output));
        await streamSpill(res, spillFileOf(spillDir, user.id, msgId));
        res.end();
      } catch (error) {
        if (error instanceof ClientGoneError) {
          log.debug(`full output download of ${url.pathname} stopped: the client went away`);
        } else if (res.headersSent) {
          log.warn(`full output download ended early: ${(error as Error).message}`);
          res.destroy();
        } else {
          const { status, body } = describeError(error, `GET ${url.pathname}`);
          sendText(res, status, body.message);
        }
      }
      return true;
    },
  };
}

async function streamSpill(res: http.ServerResponse, file: string): Promise<void> {
  let input: fs.ReadStream;
  try {
    input = fs.createReadStream(file, { encoding: "utf8" });
    await once(input, "open");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // nothing went past the limit
    throw error;
  }
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) await write(res, spillLineAsText(line));
  } finally {
    lines.close();
    input.destroy();
  }
}

/** The client closed the download before its end: nothing more to send, and no one to tell. */
class ClientGoneError extends Error {
  constructor() {
    super("the client closed the connection before the download ended");
    this.name = "ClientGoneError";
  }
}

/** Writes and waits for the socket when its buffer is full, so a huge file never sits in memory. */
async function write(res: http.ServerResponse, text: string): Promise<void> {
  if (res.destroyed) throw new ClientGoneError();
  if (text && !res.write(text)) await drainedOrGone(res);
}

/**
 * Waits for "drain", or throws when the response closes or fails first: a client that disconnects never drains,
 * and waiting for drain alone kept this handler and the spill's file handle open forever.
 */
function drainedOrGone(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      res.off("drain", onDrain).off("close", onClose).off("error", onError);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new ClientGoneError());
    const onError = (error: Error) => settle(error);
    res.on("drain", onDrain).on("close", onClose).on("error", onError);
    // A response that closed already emits no "close" again.
    if (res.destroyed) onClose();
  });
}

function sendText(res: http.ServerResponse, status: number, message: string): true {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(`${message}\n`);
  return true;
}
