/**
 * Who is watching each session now: connections per user per session (a user with two tabs counts once and
 * leaves when the last tab closes). `Presence` keeps it in this process's memory (one process is the whole
 * service); in a cluster, server/cluster/presence.ts keeps it in Redis so every process sees every process's viewers.
 */
import type { PresenceUser } from "../../lib/protocol/socket";

/** What the realtime layer and the API ask of presence, in one process or across a cluster. */
export interface PresenceBook {
  /** Adds a connection; resolves true when it is the user's first in the session (the list of users changed). */
  join(sessionId: string, connectionId: string, user: PresenceUser): Promise<boolean>;
  /** Removes a connection; resolves true when that was the user's last one in the session. */
  leave(sessionId: string, connectionId: string, userId: string): Promise<boolean>;
  /** Removes every connection of the user in the session, on every process (they were removed from it). */
  forgetUser(sessionId: string, userId: string): Promise<void>;
  /** A present user's new role (after the owner changed it). */
  setRole(sessionId: string, userId: string, role: string): Promise<void>;
  users(sessionId: string): Promise<PresenceUser[]>;
}

export class Presence implements PresenceBook {
  private readonly rooms = new Map<string, Map<string, { user: PresenceUser; connections: Set<string> }>>();

  async join(sessionId: string, connectionId: string, user: PresenceUser): Promise<boolean> {
    let room = this.rooms.get(sessionId);
    if (!room) {
      room = new Map();
      this.rooms.set(sessionId, room);
    }
    const entry = room.get(user.userId);
    if (entry) {
      entry.connections.add(connectionId);
      return false;
    }
    room.set(user.userId, { user, connections: new Set([connectionId]) });
    return true;
  }

  async leave(sessionId: string, connectionId: string, userId: string): Promise<boolean> {
    const room = this.rooms.get(sessionId);
    const entry = room?.get(userId);
    if (!room || !entry) return false;
    entry.connections.delete(connectionId);
    if (entry.connections.size > 0) return false;
    room.delete(userId);
    if (room.size === 0) this.rooms.delete(sessionId);
    return true;
  }

  async forgetUser(sessionId: string, userId: string): Promise<void> {
    const room = this.rooms.get(sessionId);
    room?.delete(userId);
    if (room?.size === 0) this.rooms.delete(sessionId);
  }

  async setRole(sessionId: string, userId: string, role: string): Promise<void> {
    const entry = this.rooms.get(sessionId)?.get(userId);
    if (entry) entry.user = { ...entry.user, role };
  }

  async users(sessionId: string): Promise<PresenceUser[]> {
    return [...(this.rooms.get(sessionId)?.values() ?? [])].map((e) => e.user);
  }
}
