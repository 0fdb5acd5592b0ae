using LiteVL.Storage.Entities;
using Microsoft.EntityFrameworkCore;

namespace LiteVL.Storage;

/// <summary>
/// The pipeline's source of truth. One model, two providers: <see cref="SqliteLiteVLDbContext"/> (embedded) and
/// <see cref="PostgresLiteVLDbContext"/> (distributed), each with its own checked-in migrations.
/// </summary>
public abstract class LiteVLDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Tenant> Tenants => Set<Tenant>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<Video> Videos => Set<Video>();

    public DbSet<Segment> Segments => Set<Segment>();

    public DbSet<VideoEvent> VideoEvents => Set<VideoEvent>();

    public DbSet<EncoderWorker> EncoderWorkers => Set<EncoderWorker>();

    public DbSet<DeletedVideo> DeletedVideos => Set<DeletedVideo>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<Tenant>(e =>
        {
            e.HasKey(t => t.Id);
            e.Property(t => t.Id).HasMaxLength(64);
        });

        modelBuilder.Entity<ApiKey>(e =>
        {
            e.HasKey(k => k.Id);
            e.Property(k => k.TenantId).HasMaxLength(64);
            e.Property(k => k.Name).HasMaxLength(200);
            e.Property(k => k.KeyHash).HasMaxLength(64);
            e.Property(k => k.Prefix).HasMaxLength(16);
            e.HasIndex(k => k.KeyHash).IsUnique();
            e.HasOne<Tenant>().WithMany().HasForeignKey(k => k.TenantId);
        });

        modelBuilder.Entity<Video>(e =>
        {
            e.HasKey(v => v.Id);
            e.Property(v => v.TenantId).HasMaxLength(64);
            e.Property(v => v.Sha256).HasMaxLength(64);
            e.Property(v => v.ContentType).HasMaxLength(200);
            e.Property(v => v.OriginalFileName).HasMaxLength(500);
            e.Property(v => v.Title).HasMaxLength(500);
            e.Property(v => v.State).HasConversion<string>().HasMaxLength(16);
            e.Property(v => v.FailedStage).HasMaxLength(32);
            e.Property(v => v.FailureReason).HasMaxLength(2000);
            e.Property(v => v.ModelVersion).HasMaxLength(100);
            e.HasIndex(v => new { v.TenantId, v.Sha256 }).IsUnique();
            e.HasIndex(v => new { v.State, v.StateChangedAt });
            e.HasIndex(v => new { v.TenantId, v.CreatedAt });
            e.HasOne<Tenant>().WithMany().HasForeignKey(v => v.TenantId);
            e.HasMany(v => v.Segments).WithOne().HasForeignKey(s => s.VideoId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(v => v.Events).WithOne().HasForeignKey(ev => ev.VideoId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Segment>(e =>
        {
            e.HasKey(s => new { s.VideoId, s.Index });
            e.Property(s => s.FramesKey).HasMaxLength(300);
            e.Property(s => s.ThumbnailKey).HasMaxLength(300);
            e.Property(s => s.TokensKey).HasMaxLength(300);
            e.Property(s => s.ModelVersion).HasMaxLength(100);
        });

        modelBuilder.Entity<VideoEvent>(e =>
        {
            e.HasKey(ev => ev.Id);
            e.Property(ev => ev.State).HasConversion<string>().HasMaxLength(16);
            e.Property(ev => ev.Detail).HasMaxLength(2000);
            e.HasIndex(ev => new { ev.VideoId, ev.At });
            e.HasIndex(ev => new { ev.State, ev.At }); // the dashboard's throughput and latency windows
        });

        modelBuilder.Entity<DeletedVideo>(e =>
        {
            e.HasKey(d => d.VideoId);
            e.Property(d => d.VideoId).ValueGeneratedNever();
            e.Property(d => d.TenantId).HasMaxLength(64);
            e.Property(d => d.ModelVersion).HasMaxLength(100);
            e.HasIndex(d => d.LastPublishedAt);
        });
        modelBuilder.Entity<EncoderWorker>(e =>
        {
            e.HasKey(w => w.Id);
            e.Property(w => w.Id).HasMaxLength(200);
            e.Property(w => w.Provider).HasMaxLength(16);
            e.Property(w => w.ModelVersion).HasMaxLength(100);
            e.HasIndex(w => w.LastHeartbeatAt);
        });
    }
}

/// <summary>The embedded mode's database (one file under the data directory).</summary>
public sealed class SqliteLiteVLDbContext(DbContextOptions<SqliteLiteVLDbContext> options) : LiteVLDbContext(options);

/// <summary>The distributed mode's database.</summary>
public sealed class PostgresLiteVLDbContext(DbContextOptions<PostgresLiteVLDbContext> options) : LiteVLDbContext(options);
