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
app.UseServiceDefaults();
app.MapUploadApi();
await app.RunAsync();
