using LiteVL.FrameExtractor;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddLiteVLStorage(builder.Configuration);
builder.Services.AddFrameExtractor(builder.Configuration);
builder.Services.AddLiteVLMessaging(builder.Configuration, bus => bus.AddFrameExtractorConsumers());

var app = builder.Build();
await app.Services.MigrateLiteVLDatabaseAsync();
app.UseServiceDefaults();
await app.RunAsync();
