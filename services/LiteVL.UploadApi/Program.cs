using LiteVL.Pipeline;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.UploadApi;

return await ServiceMain.RunAsync("upload API", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration);
    builder.Services.AddUploadApi(builder.Configuration);

    // In the distributed mode the Upload API is the single process that re-drives stuck videos and sweeps orphan files.
    builder.Services.AddLiteVLReconciler(builder.Configuration);
    builder.Services.AddLiteVLOrphanSweeper(builder.Configuration);

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    if (app.Configuration["LiteVL:AdminKeyFile"] is { Length: > 0 } adminKeyFile)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ApiKeyService>().EnsureAdminKeyFileAsync(adminKeyFile);
    }

    app.MapUploadApi();
    await app.RunAsync();
});
