// The start page: shows whether the server answers (the health resource) and links to the apps.
const el = document.getElementById('health');
try {
  const r = await fetch('/api/v1/health', { cache: 'no-store' });
  const h = await r.json();
  el.textContent = `Server ${h.program} ${h.version}: ${h.status}.`;
} catch (e) {
  el.textContent = 'The server did not answer.';
}
