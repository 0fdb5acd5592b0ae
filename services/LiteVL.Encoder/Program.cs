using LiteVL.Encoder;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

return await ServiceMain.RunAsync("encoder", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddEncoder(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration, bus => bus.AddEncoderConsumers());

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    await app.RunAsync();
});
