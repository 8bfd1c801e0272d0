"use client";
import { useEffect, useState } from "react";

/** Re-renders every `ms` while `active` (for clocks, speeds and "x s ago"). */
export function useTick(ms: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, active]);
  return now;
}
