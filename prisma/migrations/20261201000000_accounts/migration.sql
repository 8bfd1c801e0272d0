-- AlterTable
ALTER TABLE "User" ADD COLUMN "sessionVersion" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Invite" ADD COLUMN "expiresAt" DATETIME;
ALTER TABLE "Invite" ADD COLUMN "maxUses" INTEGER;
ALTER TABLE "Invite" ADD COLUMN "uses" INTEGER NOT NULL DEFAULT 0;

-- Links made before invites could expire stop working 7 days from now (written as the Prisma adapter writes dates).
UPDATE "Invite" SET "expiresAt" = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+7 days') WHERE "expiresAt" IS NULL AND "revokedAt" IS NULL;

-- CreateTable
CREATE TABLE "MemberCeiling" (
    "sessionId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "setById" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("sessionId", "userId"),
    CONSTRAINT "MemberCeiling_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "TrainingSession" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "MemberCeiling_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "MemberCeiling_setById_fkey" FOREIGN KEY ("setById") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
