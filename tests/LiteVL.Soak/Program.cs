using System.Runtime.InteropServices;
using LiteVL.Soak;

// tests/soak.sh runs this (built in Release); its last line is the soak's verdict, its exit code 0 only without a
// lost, duplicated, orphaned or stuck video.
SoakOptions options;
try
{
    options = SoakOptions.Parse(args);
}
catch (SoakUsageException e)
{
    if (e.Message.Length > 0)
    {
        await Console.Error.WriteLineAsync($"error: {e.Message}");
    }

    await Console.Error.WriteLineAsync(SoakOptions.Usage);
    return e.Message.Length > 0 ? 2 : 0;
}

// Ctrl-C or SIGTERM: stop the run and still stop the services, the broker and the database it started.
using var cancel = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
try
{
    return await new SoakRun(options, Console.Out).RunAsync(cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("soak: interrupted; the services, RabbitMQ and PostgreSQL it started are stopped");
    return 130;
}
catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException or HttpRequestException or Npgsql.NpgsqlException or Xunit.Sdk.XunitException)
{
    // The harness itself could not go on (a server or a service did not start): no verdict on the pipeline. The last
    // line says so, so that nobody reads an aborted soak as a pass or as a loss.
    Console.WriteLine(e);
    Console.WriteLine($"soak: aborted, no verdict: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
    return 3;
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}
