using Kai.Hub;

var app = await HubApplication.CreateAsync(args);
await app.RunAsync();
