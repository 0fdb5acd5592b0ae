using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LiteVL.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EncoderWorkers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "EncoderWorkers",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    ModelVersion = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    StartedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    LastHeartbeatAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Batches = table.Column<long>(type: "INTEGER", nullable: false),
                    Segments = table.Column<long>(type: "INTEGER", nullable: false),
                    LastBatchSize = table.Column<int>(type: "INTEGER", nullable: false),
                    LastBatchAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    SegmentsPerSecond = table.Column<double>(type: "REAL", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EncoderWorkers", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_VideoEvents_State_At",
                table: "VideoEvents",
                columns: new[] { "State", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_EncoderWorkers_LastHeartbeatAt",
                table: "EncoderWorkers",
                column: "LastHeartbeatAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "EncoderWorkers");

            migrationBuilder.DropIndex(
                name: "IX_VideoEvents_State_At",
                table: "VideoEvents");
        }
    }
}
