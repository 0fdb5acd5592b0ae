using LiteVL.QueryApi;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

return await ServiceMain.RunAsync("query API", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration);
    builder.Services.AddQueryApi(builder.Configuration);

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    app.MapQueryApi();
    await app.RunAsync();
});
