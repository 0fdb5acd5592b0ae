using LiteVL.Dashboard;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;

// The dashboard as its own process (distributed mode): the shared database and blob store, the broker's management
// API for queue figures, and the Query API (LiteVL:Dashboard:QueryApiUrl) for the search page. Messaging without
// consumers of its own, so that retry and re-index can publish VideoUploaded.
return await ServiceMain.RunAsync("dashboard", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.Services.AddLiteVLStorage(builder.Configuration);
    builder.Services.AddLiteVLMessaging(builder.Configuration);
    builder.Services.AddDashboard(builder.Configuration);

    var app = builder.Build();
    app.UseServiceDefaults();
    await app.Services.MigrateLiteVLDatabaseAsync();
    app.MapDashboard();
    await app.RunAsync();
});
