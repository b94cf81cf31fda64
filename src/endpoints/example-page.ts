/**
 * GET /examples/browser-chat: a page that streams a chat completion from the browser with an ephemeral token. It is
 * self-contained (no CDN) and holds nothing but the short-lived token it is given — the backend that minted the token
 * keeps the virtual key. Query parameters fill the form: gateway, token, model, prompt, max_tokens, and autostart=1.
 */

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Streaming chat with an ephemeral token</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
  label { display: block; margin-top: .75rem; font-weight: 600; }
  input, textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .4rem; }
  button { margin-top: 1rem; font: inherit; padding: .4rem 1.2rem; }
  #output { white-space: pre-wrap; border: 1px solid #ccc; padding: .75rem; min-height: 4rem; margin-top: 1rem; }
  #status[data-state="error"] { color: #a00; }
</style>
</head>
<body>
<h1>Streaming chat from the browser</h1>
<p>The token below was minted by a backend from its virtual key: it is scoped to a few models, a small budget,
this page's origin, and expires soon. The virtual key itself never reaches the browser.</p>
<form id="chat">
  <label for="gateway">Gateway URL</label><input id="gateway" name="gateway">
  <label for="token">Ephemeral token</label><input id="token" name="token" autocomplete="off">
  <label for="model">Model</label><input id="model" name="model">
  <label for="prompt">Prompt</label><textarea id="prompt" name="prompt" rows="3"></textarea>
  <label for="max_tokens">Max tokens</label><input id="max_tokens" name="max_tokens" inputmode="numeric">
  <button type="submit">Send</button>
</form>
<p id="status" role="status" data-state="idle">Idle</p>
<div id="output" aria-live="polite"></div>
<script>
const form = document.getElementById("chat");
const status = document.getElementById("status");
const output = document.getElementById("output");
const params = new URLSearchParams(location.search);
for (const name of ["gateway", "token", "model", "prompt", "max_tokens"]) form.elements[name].value = params.get(name) ?? "";
if (!form.elements.gateway.value) form.elements.gateway.value = location.origin;

function setStatus(state, text) { status.dataset.state = state; status.textContent = text; }

async function send() {
  output.textContent = "";
  setStatus("streaming", "Streaming…");
  const response = await fetch(form.elements.gateway.value + "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " + form.elements.token.value },
    body: JSON.stringify({
      model: form.elements.model.value,
      stream: true,
      messages: [{ role: "user", content: form.elements.prompt.value }],
      ...(form.elements.max_tokens.value ? { max_tokens: Number(form.elements.max_tokens.value) } : {}),
    }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    setStatus("error", "HTTP " + response.status + ": " + (body.error?.message ?? response.statusText));
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\\n\\n")) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") { setStatus("done", "Done"); return; }
      const chunk = JSON.parse(data);
      if (chunk.error) { setStatus("error", "Stream error: " + chunk.error.message); return; }
      output.textContent += chunk.choices?.[0]?.delta?.content ?? "";
    }
  }
  setStatus("error", "The stream ended early");
}

form.addEventListener("submit", (event) => { event.preventDefault(); send().catch((error) => setStatus("error", String(error))); });
if (params.get("autostart") === "1") send().catch((error) => setStatus("error", String(error)));
</script>
</body>
</html>
`;

export function browserChatPage(): Response {
  return new Response(PAGE, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      // The page talks only to gateways; nothing else may load or run.
      "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src *; form-action 'none'",
    },
  });
}
