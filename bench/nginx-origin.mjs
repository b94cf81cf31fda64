/**
 * The benchmark's origin: nginx answering a fixed chat.completion to every request, as compare.sh's does (the floor
 * every Worker is measured against), and a fixed 200-chunk SSE stream under /stream/ for the conversion benchmark.
 */
import { spawnSync } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

const COMPLETION = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1700000000,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello there, how can I help you today?" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
};

export const STREAM_CHUNKS = 200;

function streamBody() {
  const chunk = (choices, extra = {}) => JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1700000000, model: "m", choices, ...extra });
  const frames = [chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])];
  for (let i = 0; i < STREAM_CHUNKS; i++) frames.push(chunk([{ index: 0, delta: { content: " word" }, finish_reason: null }]));
  frames.push(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
  frames.push(chunk([], { usage: { prompt_tokens: 10, completion_tokens: STREAM_CHUNKS, total_tokens: 10 + STREAM_CHUNKS } }));
  return [...frames.map((frame) => `data: ${frame}\n\n`), "data: [DONE]\n\n"].join("");
}

export async function startNginxOrigin(dir, port) {
  const config = `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /stream/ {
      rewrite ^ /stream.sse last;
    }
    location / {
      default_type application/json;
      return 200 '${JSON.stringify(COMPLETION)}';
    }
    # Too long for a \`return\` string, so served as a file; nginx refuses POST to files (405), and error_page
    # serves it again as a GET.
    location = /stream.sse {
      internal;
      root ${dir};
      default_type text/event-stream;
      error_page 405 =200 $uri;
    }
  }
}
`;
  await writeFile(join(dir, "stream.sse"), streamBody());
  // nginx's worker runs as an unprivileged user: it must be able to read the stream file.
  await chmod(dir, 0o755);
  await chmod(join(dir, "stream.sse"), 0o644);
  await writeFile(join(dir, "nginx.conf"), config);
  const started = spawnSync("nginx", ["-c", join(dir, "nginx.conf")], { encoding: "utf8" });
  if (started.status !== 0) throw new Error(`nginx did not start: ${started.stderr}`);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const pid = Number((await readFile(join(dir, "nginx.pid"), "utf8")).trim());
      process.kill(pid);
    },
  };
}
