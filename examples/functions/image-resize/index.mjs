// Example (low class): resizes an image — CPU-heavy batch work that may wait.
// The image is generated in memory (width × height RGBA) and scaled down with bilinear filtering.
export const handler = async (event) => {
  const width = clamp(event?.width, 64, 4096, 1024);
  const height = clamp(event?.height, 64, 4096, 1024);
  const scale = clamp(event?.scale, 2, 16, 4);
  const src = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) >>> 24;
  const w = Math.floor(width / scale), h = Math.floor(height / scale);
  const dst = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    const sy = (y + 0.5) * scale - 0.5, y0 = Math.max(0, Math.floor(sy)), y1 = Math.min(height - 1, y0 + 1), fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = (x + 0.5) * scale - 0.5, x0 = Math.max(0, Math.floor(sx)), x1 = Math.min(width - 1, x0 + 1), fx = sx - x0;
      for (let c = 0; c < 4; c++) {
        const a = src[(y0 * width + x0) * 4 + c], b = src[(y0 * width + x1) * 4 + c];
        const d = src[(y1 * width + x0) * 4 + c], e = src[(y1 * width + x1) * 4 + c];
        dst[(y * w + x) * 4 + c] = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
      }
    }
  }
  let sum = 0;
  for (let i = 0; i < dst.length; i += 97) sum = (sum + dst[i]) % 1000003;
  return { width: w, height: h, checksum: sum };
};

function clamp(v, lo, hi, dflt) {
  return Number.isInteger(v) ? Math.min(hi, Math.max(lo, v)) : dflt;
}
