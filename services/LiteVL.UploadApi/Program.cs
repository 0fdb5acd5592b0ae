using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.UploadApi;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddLiteVLStorage(builder.Configuration);
builder.Services.AddLiteVLMessaging(builder.Configuration, _ => { });
builder.Services.AddUploadApi(builder.Configuration);

var app = builder.Build();
await app.Services.MigrateLiteVLDatabaseAsync();
if (app.Configuration["LiteVL:AdminKeyFile"] is { Length: > 0 } adminKeyFile)
{
    await using var scope = app.Services.CreateAsyncScope();
    await scope.ServiceProvider.GetRequiredService<ApiKeyService>().EnsureAdminKeyFileAsync(adminKeyFile);
}

app.UseServiceDefaults();
app.MapUploadApi();
await app.RunAsync();
