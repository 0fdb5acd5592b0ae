using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LiteVL.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class VideoTombstones : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DeletedVideos",
                columns: table => new
                {
                    VideoId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TenantId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ModelVersion = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    DeletedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    LastPublishedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Attempts = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DeletedVideos", x => x.VideoId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_DeletedVideos_LastPublishedAt",
                table: "DeletedVideos",
                column: "LastPublishedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DeletedVideos");
        }
    }
}
