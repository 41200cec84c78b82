import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Hummingbird

/// `POST /v1/seed`: a VM's initial replica from exported disk images (see ``Seeder``).
struct SeedRoutes: Sendable {
    let catalog: Catalog
    let datastores: Datastores

    func register(on group: RouterGroup<BulwarkRequestContext>) {
        group.post("seed") { request, context in
            let body = try await request.decode(as: SeedRequest.self, context: context)
            let reference = try GroupRoutes.references([body.vm])[0]
            let vm = try await catalog.resolveVM(reference)
            // The images are checked before the job exists, so a typo is a 400 that leaves no failed job behind.
            let images = try await Seeder.open(body.disks, vm: vm, datastores: datastores)
            let seed = try await catalog.startSeed(vm: reference)
            let seeder = Seeder(catalog: catalog, datastores: datastores, logger: context.logger)
            Task.detached { await seeder.run(images, seed: seed) }
            return EditedResponse(status: .accepted, response: OperationRoutes.view(seed.job))
        }
    }
}
