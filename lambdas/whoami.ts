import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES, type RouteId } from '../lib/platform/http/routes.js';

/** The routes a role may call (the route table's roles; `public` routes anyone may). */
const routesFor = (role: string): RouteId[] =>
  (Object.keys(ROUTES) as RouteId[]).filter((id) => {
    const roles = ROUTES[id].roles;
    return roles === 'public' || (roles as readonly string[]).includes(role);
  });

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.whoami, container, async (req) => {
    // the route admits roles only: a caller always reaches here with a principal
    const p = req.principal!;
    return { status: 200, body: { principal: p.id, role: p.role, scope: p.scope, routes: routesFor(p.role) } };
  });

export const handler = build(lambdaContainer);
