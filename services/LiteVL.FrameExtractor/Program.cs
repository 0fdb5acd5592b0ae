using LiteVL.FrameExtractor;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

return await ServiceMain.RunAsync("frame extractor", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddFrameExtractor(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration, bus => bus.AddFrameExtractorConsumers());

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    await app.RunAsync();
});
