/** The trainer slots' counting and queue (server/runs/trainer-slots.ts), without processes. */
import { describe, expect, it } from "vitest";
import { QuotaError } from "../../server/limits";
import { TrainerSlots } from "../../server/runs/trainer-slots";

const limits = { GAN_MAX_LIVE_TRAINERS: 2, GAN_MAX_LIVE_TRAINERS_PER_SESSION: 3, GAN_MAX_LIVE_TRAINERS_PER_USER: 4, GAN_MAX_QUEUED_RUNS: 2 };
const owner = (runId: string, sessionId = "s1", userId: string | null = "u1") => ({ runId, sessionId, userId });

function quota(fn: () => unknown): QuotaError {
  try {
    fn();
  } catch (e) {
    if (e instanceof QuotaError) return e;
    throw e;
  }
  throw new Error("expected a QuotaError");
}

describe("trainer slots", () => {
  it("gives slots up to the cap, then queues in order, then refuses past the queue's length", () => {
    const slots = new TrainerSlots<null>(limits);
    expect(slots.admit(owner("a", "s1", "u1"), null)).toHaveProperty("slot");
    expect(slots.admit(owner("b", "s2", "u2"), null)).toHaveProperty("slot");
    expect(slots.admit(owner("c", "s3", "u3"), null)).toEqual({ position: 0 });
    expect(slots.admit(owner("d", "s4", "u4"), null)).toEqual({ position: 1 });
    const e = quota(() => slots.admit(owner("e", "s5", "u5"), null));
    expect(e.quota).toEqual({ name: "queue", limit: 2, used: 2 });
    expect(e.message).toMatch(/queue is full/);
    expect([slots.liveCount, slots.queuedCount, slots.position("d")]).toEqual([2, 2, 1]);
  });

  it("refuses at once past the session's or the user's share, queued runs counted", () => {
    const slots = new TrainerSlots<null>({ ...limits, GAN_MAX_LIVE_TRAINERS: 1, GAN_MAX_LIVE_TRAINERS_PER_SESSION: 2, GAN_MAX_LIVE_TRAINERS_PER_USER: 2 });
    slots.admit(owner("a", "s1", "u1"), null);
    expect(slots.admit(owner("b", "s1", "u2"), null)).toEqual({ position: 0 });
    const session = quota(() => slots.admit(owner("c", "s1", "u3"), null));
    expect(session.quota).toEqual({ name: "liveTrainers", limit: 2, used: 2 });
    expect(session.message).toMatch(/^this session already trains 2 runs/);
    slots.admit(owner("d", "s2", "u1"), null);
    const user = quota(() => slots.admit(owner("e", "s3", "u1"), null));
    expect(user.message).toMatch(/^you already train 2 runs/);
    // The server's own starts (no user) are counted per session only.
    expect(quota(() => slots.admit(owner("f", "s1", null), null)).quota.name).toBe("liveTrainers");
  });

  it("a freed slot goes to the queue's head; a slot frees once however often it is freed", () => {
    let freed = 0;
    const slots: TrainerSlots<string> = new TrainerSlots<string>({ ...limits, GAN_MAX_LIVE_TRAINERS: 1 }, () => freed++);
    const first = slots.admit(owner("a"), "A");
    if (!("slot" in first)) throw new Error("expected a slot");
    slots.admit(owner("b"), "B");
    slots.admit(owner("c"), "C");
    expect(slots.next()).toBeNull(); // no slot free
    expect(first.slot.free()).toBe(true);
    expect(first.slot.free()).toBe(false); // released, then exited: counted once
    expect([freed, slots.liveCount]).toEqual([1, 0]);
    const n = slots.next();
    expect(n?.entry.payload).toBe("B");
    expect([slots.liveCount, slots.position("c"), slots.isLive("b")]).toEqual([1, 0, true]);
    // Nobody is overtaken: a newcomer queues behind c even when a slot is free.
    n!.slot.free();
    expect(slots.admit(owner("d"), "D")).toEqual({ position: 1 });
  });

  it("a queued run can leave the queue; the queue drains at shutdown", () => {
    const slots = new TrainerSlots<string>({ ...limits, GAN_MAX_LIVE_TRAINERS: 1 });
    slots.admit(owner("a"), "A");
    slots.admit(owner("b"), "B");
    slots.admit(owner("c"), "C");
    expect(slots.cancel("b")?.payload).toBe("B");
    expect(slots.cancel("b")).toBeNull();
    expect(slots.position("c")).toBe(0);
    expect(slots.drain().map((e) => e.runId)).toEqual(["c"]);
    expect(slots.queuedCount).toBe(0);
  });

  it("with no queue allowed, a full server refuses", () => {
    const slots = new TrainerSlots<null>({ ...limits, GAN_MAX_LIVE_TRAINERS: 1, GAN_MAX_QUEUED_RUNS: 0 });
    slots.admit(owner("a", "s1", "u1"), null);
    const e = quota(() => slots.admit(owner("b", "s2", "u2"), null));
    expect(e.quota).toEqual({ name: "queue", limit: 0, used: 0 });
    expect(e.message).toBe("the server's 1 trainer slot is busy and it queues no runs: try again when a run ends");
  });
});
