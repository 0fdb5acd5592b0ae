using LiteVL.QueryApi;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddLiteVLStorage(builder.Configuration);
builder.Services.AddLiteVLMessaging(builder.Configuration, _ => { });
builder.Services.AddQueryApi(builder.Configuration);

var app = builder.Build();
await app.Services.MigrateLiteVLDatabaseAsync();
app.UseServiceDefaults();
app.MapQueryApi();
await app.RunAsync();
