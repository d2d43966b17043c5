// A readable difference between two config bodies: one line per changed leaf, "path: old -> new".
function leaves(value, prefix, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    for (const key of Object.keys(value).sort()) leaves(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

export function show(value) {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}

// [{ path, kind: "changed" | "added" | "removed", before, after }], sorted by path.
export function diffConfigs(before, after) {
  const a = leaves(before || {}, "", new Map());
  const b = leaves(after || {}, "", new Map());
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes = [];
  for (const path of paths) {
    const had = a.has(path);
    const has = b.has(path);
    const old = had ? a.get(path) : undefined;
    const now = has ? b.get(path) : undefined;
    if (had && has && JSON.stringify(old) === JSON.stringify(now)) continue;
    changes.push({ path, kind: !had ? "added" : !has ? "removed" : "changed", before: old, after: now });
  }
  return changes;
}
