// Example (high class): renders a home page. Short and latency-sensitive.
export const handler = async (event) => {
  const user = typeof event?.user === 'string' ? event.user : 'guest';
  const items = Array.from({ length: 50 }, (_, i) => `<li>item ${i} for ${user}</li>`).join('');
  const body = `<!doctype html><title>Home</title><h1>Welcome, ${user}</h1><ul>${items}</ul>`;
  return { statusCode: 200, headers: { 'content-type': 'text/html' }, body };
};
