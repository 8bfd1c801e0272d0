/** What the spec and Config tests share: specs to break on purpose, the error a rejection throws, the standard networks. */
import { expect } from "vitest";
import { ConfigError, parseConfig } from "../../lib/gan/config";
import { SpecError, resolveSpec, type NetworkSpecInput } from "../../lib/gan/spec";

/**
 * A spec to break on purpose: any key with any value, its layers and networks open records (index them with `!`).
 */
export interface Loose {
  [key: string]: unknown;
  image: Record<string, unknown>;
  z: Record<string, unknown>;
  generator: Record<string, unknown>[];
  discriminator: Record<string, unknown>[];
  networks: Record<string, unknown>[];
}

/** A deep, mutable copy of a built-in spec, to break one thing in it. */
export const copySpec = (spec: NetworkSpecInput): Loose => structuredClone(spec) as Loose;

/** Runs `run` and returns the error of class `type` it throws (fails the test if it throws another or none). */
function rejection<E extends Error>(type: new (...args: never[]) => E, run: () => unknown, accepted: string): E {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as E;
  }
  throw new Error(accepted);
}

/** Runs resolveSpec and returns the SpecError it throws (fails the test if it does not throw one). */
export const specError = (input: unknown): SpecError =>
  rejection(SpecError, () => resolveSpec(input as NetworkSpecInput), "resolveSpec accepted a spec it should reject");

/** Runs parseConfig and returns the ConfigError it throws (fails the test if it does not throw one). */
export const configError = (input: unknown): ConfigError => rejection(ConfigError, () => parseConfig(input), "parseConfig accepted a config it should reject");

/** The four networks of a conditional GAN spec with BinaryCrossEntropy losses, as the built-in specs have them. */
export const GAN_NETWORKS: NetworkSpecInput["networks"] = [
  { name: "Generator", input: "noise", parts: ["generator", "discriminator"], trains: ["generator"], loss: { type: "BinaryCrossEntropy", target: 1 } },
  {
    name: "DiscriminatorFake",
    input: "noise",
    parts: ["generator", "discriminator"],
    trains: ["discriminator"],
    loss: { type: "BinaryCrossEntropy", target: 0 },
  },
  { name: "DiscriminatorReal", input: "data", parts: ["discriminator"], trains: ["discriminator"], loss: { type: "BinaryCrossEntropy", target: 1 } },
  { name: "RuntimeGenerator", input: "noise", parts: ["generator"], trains: [], loss: null },
];
