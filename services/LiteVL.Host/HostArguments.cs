namespace LiteVL.Host;

/// <summary>The host's own arguments; everything else goes to ASP.NET configuration (e.g. --urls, --LiteVL:Model:Directory=...).</summary>
/// <param name="Verbose">--verbose: framework logs (SQL, MassTransit, hosting) at Information again and LiteVL at Debug.</param>
internal sealed record HostArguments(string DataDirectory, int Samples, bool Verbose, string[] Remaining)
{
    public static HostArguments Parse(string[] args)
    {
        string data = Environment.GetEnvironmentVariable("LITEVL_DATA") ?? ".litevl";
        int samples = 10;
        bool verbose = false;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data" when i + 1 < args.Length:
                    data = args[++i];
                    break;
                case "--samples" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n >= 0:
                    samples = n;
                    i++;
                    break;
                case "--verbose":
                    verbose = true;
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }

        return new HostArguments(data, samples, verbose, [.. rest]);
    }
}
