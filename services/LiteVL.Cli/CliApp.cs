using System.CommandLine;
using LiteVL.Cli.Commands;
using LiteVL.Media;
using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Weights;

namespace LiteVL.Cli;

/// <summary>The <c>litevl</c> command line: model tools now; ingest and search talk to the API.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("LiteVL: find moments in video by describing them in words.");
        root.Subcommands.Add(ModelCommands.Create(output));
        root.Subcommands.Add(EncodeTextCommand.Create(output));
        root.Subcommands.Add(BenchCommand.Create(output));
        root.Subcommands.Add(SearchCommand.Create(output));
        root.Subcommands.Add(AskCommand.Create(output));
        root.Subcommands.Add(EvalCommand.Create(output));
        root.Subcommands.Add(TrainCommand.Create(output));
        root.Subcommands.Add(DataCommand.Create(output));
        root.Subcommands.Add(ExperimentCommand.Create(output));
        root.Subcommands.Add(IngestCommand.Create(output));
        root.Subcommands.Add(StatusCommand.Create(output));
        var parse = root.Parse(args);
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Errors that a person can fix from the message alone; anything else is a bug and keeps its stack trace.</summary>
    private static bool IsUserError(Exception e) => e is ModelDirectoryException or ModelInputException or MissingWeightException
        or WeightShapeException or SafeTensorsFormatException or NpyFormatException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or ArgumentException or KeyNotFoundException or InvalidOperationException
        or HttpRequestException or MediaException { Kind: not MediaErrorKind.ProcessFailed };
}
