/**
 * Who is watching each session now: connections per user per session (a user with two tabs counts once and
 * leaves when the last tab closes).
 */
import type { PresenceUser } from "../../lib/protocol/socket";

export class Presence {
  private readonly rooms = new Map<string, Map<string, { user: PresenceUser; connections: Set<string> }>>();

  /** Adds a connection; returns true when the user was not present before. */
  join(sessionId: string, connectionId: string, user: PresenceUser): boolean {
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

  /** Removes a connection; returns true when that was the user's last one in the session. */
  leave(sessionId: string, connectionId: string, userId: string): boolean {
    const room = this.rooms.get(sessionId);
    const entry = room?.get(userId);
    if (!room || !entry) return false;
    entry.connections.delete(connectionId);
    if (entry.connections.size > 0) return false;
    room.delete(userId);
    if (room.size === 0) this.rooms.delete(sessionId);
    return true;
  }

  /** A present user's new role (after the owner changed it). */
  setRole(sessionId: string, userId: string, role: string): void {
    const entry = this.rooms.get(sessionId)?.get(userId);
    if (entry) entry.user = { ...entry.user, role };
  }

  users(sessionId: string): PresenceUser[] {
    return [...(this.rooms.get(sessionId)?.values() ?? [])].map((e) => e.user);
  }
}
