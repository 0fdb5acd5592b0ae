// The embedded host: every service in one process (in-memory bus, SQLite, embedded vector index, the shipped small model).
//   dotnet run --project services/LiteVL.Host [-- --data DIR] [--urls http://127.0.0.1:8080] [--samples N] [--verbose] [--LiteVL:Embedded:Model=tiny]
// The console is for people: one line per video that changes state, the banner last at start-up, nothing while idle.
// Its whole start-up is LiteVL.Host.EmbeddedHost.
return await LiteVL.Host.EmbeddedHost.RunAsync(args);
