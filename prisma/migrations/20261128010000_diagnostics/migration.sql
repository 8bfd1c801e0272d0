-- CreateTable
CREATE TABLE "DiagnosticsPoint" (
    "runId" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "iteration" INTEGER NOT NULL,
    "metricsJson" TEXT NOT NULL,
    "alarmsJson" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("runId", "epoch"),
    CONSTRAINT "DiagnosticsPoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
