using LiteVL.Indexer;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

return await ServiceMain.RunAsync("indexer", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddIndexer(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration, bus => bus.AddIndexerConsumers());

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    await app.RunAsync();
});
